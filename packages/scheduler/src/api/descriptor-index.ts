// The proto files of a FileDescriptorSet, indexed the way server reflection
// asks for them: by file name, by fully-qualified symbol, by extension.
import { createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";

export class DescriptorIndex {
  private readonly files = new Map<string, { proto: FileDescriptorProto; bytes: Uint8Array }>();
  /** Fully-qualified name (no leading dot) of every message, field, oneof, enum, enum value, service, method and extension → its file. */
  private readonly symbols = new Map<string, string>();
  /** Extended message → field number → file declaring the extension. */
  private readonly extensions = new Map<string, Map<number, string>>();
  private readonly messages = new Set<string>();
  readonly services: readonly string[];

  /** Throws when the set does not resolve (a missing import, an unknown type), as any descriptor pool would. */
  constructor(descriptorSet: Uint8Array) {
    const set = fromBinary(FileDescriptorSetSchema, descriptorSet);
    createFileRegistry(set);
    const services: string[] = [];
    for (const file of set.file) {
      this.files.set(file.name, { proto: file, bytes: toBinary(FileDescriptorProtoSchema, file) });
      const scope = file.package ? `${file.package}.` : "";
      this.indexMessages(file.name, scope, file.messageType);
      this.indexEnums(file.name, scope, file.enumType);
      this.indexExtensions(file.name, scope, file.extension);
      for (const s of file.service) {
        services.push(this.add(file.name, scope + s.name));
        for (const m of s.method) this.add(file.name, `${scope}${s.name}.${m.name}`);
      }
    }
    this.services = services;
  }

  hasFile(name: string): boolean {
    return this.files.has(name);
  }

  fileOfSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.replace(/^\./, ""));
  }

  fileOfExtension(extendee: string, fieldNumber: number): string | undefined {
    return this.extensions.get(extendee.replace(/^\./, ""))?.get(fieldNumber);
  }

  /** The extension numbers of a message, or undefined when no file declares that message. */
  extensionNumbers(message: string): number[] | undefined {
    const name = message.replace(/^\./, "");
    if (!this.messages.has(name)) return undefined;
    return [...(this.extensions.get(name)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /**
   * The serialized file followed by everything it imports, transitively, each once.
   * The named file comes first: clients take the first one as the answer.
   */
  withImports(name: string): Uint8Array[] {
    const seen = new Set<string>();
    const visit = (n: string) => {
      const file = this.files.get(n);
      if (!file || seen.has(n)) return;
      seen.add(n);
      for (const dep of file.proto.dependency) visit(dep);
    };
    visit(name);
    return [...seen].map((n) => this.files.get(n)!.bytes);
  }

  private add(file: string, fqn: string): string {
    this.symbols.set(fqn, file);
    return fqn;
  }

  private indexMessages(file: string, scope: string, messages: readonly DescriptorProto[]): void {
    for (const m of messages) {
      const name = this.add(file, scope + m.name);
      this.messages.add(name);
      for (const f of m.field) this.add(file, `${name}.${f.name}`);
      for (const o of m.oneofDecl) this.add(file, `${name}.${o.name}`);
      this.indexMessages(file, `${name}.`, m.nestedType);
      this.indexEnums(file, `${name}.`, m.enumType);
      this.indexExtensions(file, `${name}.`, m.extension);
    }
  }

  /** Enum values are siblings of their enum in protobuf's scoping (C++ rules). */
  private indexEnums(file: string, scope: string, enums: readonly EnumDescriptorProto[]): void {
    for (const e of enums) {
      this.add(file, scope + e.name);
      for (const v of e.value) this.add(file, scope + v.name);
    }
  }

  private indexExtensions(file: string, scope: string, extensions: readonly FieldDescriptorProto[]): void {
    for (const x of extensions) {
      this.add(file, scope + x.name);
      const extendee = x.extendee.replace(/^\./, "");
      const byNumber = this.extensions.get(extendee) ?? new Map<number, string>();
      byNumber.set(x.number, file);
      this.extensions.set(extendee, byNumber);
    }
  }
}
