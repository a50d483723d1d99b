// BLAKE2b with a 4-byte digest, as the server's sampling rule uses (core/enrich/rules.sampled_in):
// tracker and server must put the same session tokens in the sample. Inputs up to 128 bytes.
const IV = '6a09e667f3bcc908bb67ae8584caa73b3c6ef372fe94f82ba54ff53a5f1d36f1510e527fade682d19b05688c2b3e6c1f1f83d9abfb41bd6b5be0cd19137e2179';
const SIGMA = '0123456789abcdefea489fd61c02b753b8c052fdae3671947931dcbe265a40f8905724afe1bc683d2c6a0b834d75fe19' +
  'c51fed4a0763928bdb7ec13950f4862a6fe9b308c2d714a5a2847615fb9e3cd0';

// The digest read as a big-endian unsigned integer (Python's int.from_bytes(digest, "big")).
export function blake2b32(text) {
  const B = BigInt;
  const M = (B(1) << B(64)) - B(1);
  const data = new TextEncoder().encode(text).slice(0, 128);
  const iv = [];
  for (let i = 0; i < 8; i++) iv.push(B('0x' + IV.substr(i * 16, 16)));
  const m = [];
  for (let i = 0; i < 16; i++) {
    let word = B(0);
    for (let j = 7; j >= 0; j--) word = (word << B(8)) | B(data[i * 8 + j] || 0);
    m.push(word);
  }
  const h0 = iv[0] ^ B(0x01010004); // parameter block: digest length 4, no key, fanout 1, depth 1
  const v = [h0].concat(iv.slice(1), iv);
  v[12] ^= B(data.length);
  v[14] ^= M; // last block
  const rot = (x, n) => ((x >> B(n)) | (x << B(64 - n))) & M;
  const G = (a, b, c, d, x, y) => {
    v[a] = (v[a] + v[b] + x) & M; v[d] = rot(v[d] ^ v[a], 32);
    v[c] = (v[c] + v[d]) & M; v[b] = rot(v[b] ^ v[c], 24);
    v[a] = (v[a] + v[b] + y) & M; v[d] = rot(v[d] ^ v[a], 16);
    v[c] = (v[c] + v[d]) & M; v[b] = rot(v[b] ^ v[c], 63);
  };
  for (let r = 0; r < 12; r++) {
    const s = (i) => m[parseInt(SIGMA[(r % 10) * 16 + i], 16)];
    G(0, 4, 8, 12, s(0), s(1)); G(1, 5, 9, 13, s(2), s(3)); G(2, 6, 10, 14, s(4), s(5)); G(3, 7, 11, 15, s(6), s(7));
    G(0, 5, 10, 15, s(8), s(9)); G(1, 6, 11, 12, s(10), s(11)); G(2, 7, 8, 13, s(12), s(13)); G(3, 4, 9, 14, s(14), s(15));
  }
  const low = Number((h0 ^ v[0] ^ v[8]) & B(0xffffffff));
  return (((low & 255) << 24) | (((low >>> 8) & 255) << 16) | (((low >>> 16) & 255) << 8) | (low >>> 24)) >>> 0;
}
