// The one import of @peculiar/x509: its DI container (tsyringe) needs a Reflect polyfill
// loaded first, and it signs through Node's WebCrypto.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
