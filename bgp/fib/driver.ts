// The edge between the FIB core and the kernel. Two implementations with the
// same interface: NetlinkFibDriver (the real kernel, by rtnetlink from inside
// the process) and FakeFibDriver (in memory, for tests of everything above
// the kernel).
import type { FibOp } from "./fib-sync.js";
import type { KernelRoute } from "./route.js";

export interface FibOpFailure {
  op: FibOp;
  error: string;
}

export interface FibDriver {
  /** our routes (table and proto of the driver) as the kernel has them now */
  list(): Promise<KernelRoute[]>;
  /**
   * Apply in order; every op is attempted; failures are reported, not thrown.
   * May be called again before an earlier call resolved (KernelFib prepares
   * the next batch while the kernel applies this one): batches are applied in
   * call order.
   */
  apply(ops: readonly FibOp[]): Promise<FibOpFailure[]>;
  close(): Promise<void>;
}
