// bgp/fib: Loc-RIB best routes into a kernel routing table. FibSync is the pure
// diff core, KernelFib the shell, IpBatchDriver the kernel edge and
// FakeFibDriver its in-memory twin.
export { FibSync, nextHopKey, gatewayKey } from "./fib-sync.js";
export type { FibOp } from "./fib-sync.js";
export type { KernelRoute, NextHop } from "./route.js";
export { canonicalNextHops, replaceCommand, deleteCommand, FibRouteError } from "./route.js";
export type { FibDriver, FibOpFailure } from "./driver.js";
export { IpBatchDriver } from "./ip-batch-driver.js";
export type { IpBatchOptions } from "./ip-batch-driver.js";
export { FakeFibDriver } from "./fake-driver.js";
export { KernelFib } from "./kernel-fib.js";
export type { KernelFibOptions, KernelFibStats, FibChangeIn } from "./kernel-fib.js";
