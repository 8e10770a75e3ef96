import type { ReactElement } from "react";

export interface AssemblyFloorProps {
  /** The Assembly node's origin, e.g. "https://assembly.example". */
  node: string;
  /** A session id, or "current" (the default) for the one the node shows first. */
  session?: number | "current";
  /** A class for the element (it sizes itself as a block). */
  className?: string;
  /** Called if the node's element script could not be loaded. */
  onError?: (error: Error) => void;
}

/** The live floor of an Assembly node; renders a plain tag on the server. */
export function AssemblyFloor(props: AssemblyFloorProps): ReactElement;
