import type { Flow, Trace } from './trace.js';

/** One node's part of a `trace --cluster` journey. */
export interface JourneyLeg {
  node: string;
  trace: Trace;
  /** why the journey went on to the next node, or why it stopped here */
  next?: string;
}

/** A packet followed from node to node over a directory of node snapshots (`trace --cluster`). */
export interface Journey {
  schemaVersion: 1;
  flow: Flow;
  legs: JourneyLeg[];
  disposition: Trace['disposition'];
  /** set when the packet left the captured set of nodes */
  leftAt?: string;
  /** the reply (dst → src) traced the same way, when the request was delivered */
  returnPath?: { nodes: string[]; disposition: Trace['disposition']; leftAt?: string; differs: boolean };
  warnings: { code: string; message: string }[];
}
