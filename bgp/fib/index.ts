// bgp/fib: Loc-RIB best routes into a kernel routing table. FibSync is the pure
// diff core, KernelFib the shell, NetlinkFibDriver the kernel edge (rtnetlink
// through net/netlink, no process) and FakeFibDriver its in-memory twin.
export { FibSync, nextHopKey, gatewayKey } from "./fib-sync.js";
export type { FibOp } from "./fib-sync.js";
export type { KernelRoute, NextHop } from "./route.js";
export { canonicalNextHops, FibRouteError } from "./route.js";
export type { FibDriver, FibOpFailure } from "./driver.js";
export { NetlinkFibDriver, describeOp } from "./netlink-driver.js";
export type { NetlinkFibOptions } from "./netlink-driver.js";
export { FakeFibDriver } from "./fake-driver.js";
export { KernelFib } from "./kernel-fib.js";
export type { KernelFibOptions, KernelFibStats, FibChangeIn } from "./kernel-fib.js";
