// ECDSA P-256 keys through Node's WebCrypto, and their PEM forms. @peculiar/x509 builds
// and parses the certificates; nothing here hand-writes ASN.1.
import { webcrypto } from "node:crypto";
import { x509 } from "./x509.js";


export const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
export const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;

export type CryptoKey = webcrypto.CryptoKey;
export type KeyPair = webcrypto.CryptoKeyPair;

export function generateKeyPair(): Promise<KeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/** A PKCS#8 PEM private key with its public half (derived through JWK, which carries both). */
export async function keyPairFromPem(pem: string): Promise<KeyPair> {
  const der = x509.PemConverter.decodeFirst(pem);
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, true, ["sign"]);
  const jwk = await webcrypto.subtle.exportKey("jwk", privateKey);
  const pub = { ...jwk };
  delete pub.d;
  const publicKey = await webcrypto.subtle.importKey("jwk", { ...pub, key_ops: ["verify"] }, KEY_ALGORITHM, true, ["verify"]);
  return { privateKey, publicKey };
}
