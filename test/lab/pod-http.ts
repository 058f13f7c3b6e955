/** HTTP from inside a lab pod, with the image's busybox (kubectl exec). */
import { kubectlIn } from "./lab-commands.js";

/**
 * The sh pipeline of one HTTP/1.0 GET of ip:port with busybox nc: it gives up
 * after `waitS` seconds without data (nc -w) and after `waitS` + 1 in all
 * (timeout). nc, not wget: the image's static busybox wget segfaults (it
 * resolves through glibc's NSS, which a static binary cannot load).
 */
export const httpGetCommand = (ip: string, port: number, waitS: number): string =>
  `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout ${waitS + 1} nc -w ${waitS} ${ip} ${port}`;

/**
 * One GET of ip:8080 from inside pod `from` (kubectl exec, namespace
 * default): the exit code and the reply's last line, which is the serving
 * pod's name for WEB_DEPLOYMENT (real-nodes-lab.ts).
 */
export async function httpGet(
  dir: string,
  from: string,
  ip: string,
): Promise<{ code: number; served: string }> {
  const r = await kubectlIn(dir, "exec", from, "--", "sh", "-c", httpGetCommand(ip, 8080, 5));
  return { code: r.code, served: r.out.trim().split("\n").pop() ?? "" };
}
