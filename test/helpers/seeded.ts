// A seeded xorshift32 generator and the address builders the route-agreement tests draw their tables from: the
// same seed gives the same table, so a disagreement with the kernel can be replayed.

export function seeded(start: number) {
  let seed = start;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (n: number) => Math.floor(rnd() * n);
  return { rnd, pick, int };
}

/** An IPv4 address from its 32-bit value. */
export const v4 = (a: number) => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
/** The network part of a 32-bit address under a prefix length. */
export const mask4 = (a: number, len: number) => (len === 0 ? 0 : (a & (~0 << (32 - len))) >>> 0);
/** An IPv6 address from its eight 16-bit groups. */
export const v6 = (g: number[]) => g.map((x) => x.toString(16)).join(':');
