/**
 * Who owns a host veth, and what ADD, DEL and GC may do with it (pure).
 *
 * The pinned host veth name (docs/architecture.md: "trl" + sha1(`<namespace>.<podName>`))
 * depends on the pod's name only, so every sandbox of a pod recreated under
 * its old name (a StatefulSet restart) wants the same name, and the new
 * sandbox's ADD often comes before the old one's DEL (or that DEL was lost
 * while the agent was down). The name alone cannot say whose veth it is.
 * So ADD writes the owning attachment into the kernel, as the host veth's
 * ifalias (`trellis:<containerID>/<ifname>`): it survives an agent restart,
 * and DEL, CHECK and GC read it back.
 *
 * A veth without a marker (made by an agent before this one, or left by a
 * crash between `link add` and the alias) belongs to the attachment IPAM
 * says holds addresses for that pod on this node, the newest one if several
 * do (each ADD replaces an older sandbox's veth, so the veth that is there
 * is the latest ADD's); if IPAM knows nobody, the name decides (the
 * behaviour before markers).
 */

/** One CNI attachment (SPEC.md: ADD/DEL/CHECK name a (CNI_CONTAINERID, CNI_IFNAME) pair). */
export interface VethOwner {
  readonly containerID: string;
  readonly ifname: string;
}

const PREFIX = "trellis:";
/** IFALIASZ is 256 bytes including the NUL (include/uapi/linux/if.h). */
const MAX_ALIAS = 255;

/**
 * The marker for an attachment, or undefined when it does not fit an ifalias.
 * "/" separates: a container ID is [a-zA-Z0-9_.-] (libcni ValidateContainerID)
 * and an interface name never holds "/" (dev_valid_name), so it parses back
 * unambiguously, and it holds no blank (it travels in `ip -batch` lines).
 */
export function ownerMarker(o: VethOwner): string | undefined {
  const m = `${PREFIX}${o.containerID}/${o.ifname}`;
  return m.length <= MAX_ALIAS && !/\s/.test(m) ? m : undefined;
}

/** Parses an ifalias back; anything that is not our marker is "no marker". */
export function parseOwnerMarker(alias: string | undefined): VethOwner | undefined {
  if (alias === undefined || !alias.startsWith(PREFIX)) return undefined;
  const rest = alias.slice(PREFIX.length);
  const slash = rest.lastIndexOf("/");
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  return { containerID: rest.slice(0, slash), ifname: rest.slice(slash + 1) };
}

export function sameOwner(a: VethOwner, b: VethOwner): boolean {
  return a.containerID === b.containerID && a.ifname === b.ifname;
}

/**
 * The owner of a veth: its marker, else the newest of IPAM's holders for
 * the pod (`podOwners` is ordered oldest first), else unknown.
 */
export function vethOwner(
  marker: VethOwner | undefined,
  podOwners: readonly VethOwner[],
): VethOwner | undefined {
  return marker ?? podOwners[podOwners.length - 1];
}

/** What ADD does when the host veth's name is already taken. */
export type AddCollision =
  /** An older sandbox of the pod holds it: delete it and create ours. */
  | { action: "replace"; previous: VethOwner | undefined }
  /** This very attachment holds it: ADD twice without DEL (SPEC.md "ADD" forbids it). */
  | { action: "refuse"; why: "same-attachment" }
  /** Another interface of the same sandbox holds it: one pod, one trellis veth name. */
  | { action: "refuse"; why: "same-sandbox"; holder: VethOwner };

/**
 * ADD found the host veth name taken. `marker` is the veth's owner as the
 * kernel records it; `podOwners` the attachments IPAM held for this pod on
 * this node before this ADD allocated, oldest first (the fallback for an
 * unmarked veth).
 * A different container ID is a different sandbox, and the runtime makes a
 * new sandbox of a pod only when the old one is dead or being torn down: the
 * old veth is stale and is replaced (last writer wins). Its addresses stay
 * with the old handle until that handle's DEL, GC or the leak check.
 */
export function onAddCollision(
  me: VethOwner,
  marker: VethOwner | undefined,
  podOwners: readonly VethOwner[],
): AddCollision {
  const owner = vethOwner(marker, podOwners);
  if (owner === undefined) return { action: "replace", previous: undefined };
  if (sameOwner(owner, me)) return { action: "refuse", why: "same-attachment" };
  if (owner.containerID === me.containerID) return { action: "refuse", why: "same-sandbox", holder: owner };
  return { action: "replace", previous: owner };
}

/**
 * May DEL of `me` delete the host veth? Only its owner's DEL may: a late DEL
 * of an old sandbox must leave a newer sandbox's veth (and with it that
 * pod's routes) alone. Unmarked: the newest of IPAM's holders for the pod
 * decides, and when IPAM knows nobody the name decides (SPEC.md "DEL": clean up what is ours,
 * and a DEL of something already gone is success).
 */
export function mayDeleteOnDel(
  me: VethOwner,
  marker: VethOwner | undefined,
  podOwners: readonly VethOwner[],
): boolean {
  const owner = vethOwner(marker, podOwners);
  return owner === undefined || sameOwner(owner, me);
}

/**
 * May GC (SPEC.md "GC": release what is not in cni.dev/valid-attachments)
 * delete a host veth found under a stale allocation's name? Only when its
 * owner is not a valid attachment. Unmarked: when no valid attachment holds
 * an address for the same pod.
 */
export function mayDeleteOnGc(
  marker: VethOwner | undefined,
  isValid: (o: VethOwner) => boolean,
  podHasValidAttachment: boolean,
): boolean {
  if (marker !== undefined) return !isValid(marker);
  return !podHasValidAttachment;
}
