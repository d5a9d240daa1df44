import { SourceError } from '../errors.js';

/**
 * A whole probe output that cannot be read at all (not JSON where JSON was expected, no line
 * in a known shape). Per-record problems are warnings instead; the collector catches this,
 * marks the probe failed and goes on with the rest of the node.
 */
export class ParseError extends SourceError {
  constructor(probe: string, message: string) {
    super(probe, message);
  }
}
