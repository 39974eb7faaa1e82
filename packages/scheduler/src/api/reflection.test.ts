import { readFileSync } from "node:fs";
import { status } from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, FieldDescriptorProto_Label, FieldDescriptorProto_Type } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { descriptorSetPath } from "@drover/proto";
import { DescriptorIndex } from "./descriptor-index.js";
import { respond, type ReflectionRequest } from "./reflection.js";

// Drover's protos declare no extensions, so these requests are checked on a
// small proto2 set: base.proto declares Base, ext.proto extends it.
const LABEL_OPTIONAL = FieldDescriptorProto_Label.OPTIONAL;
const { STRING: TYPE_STRING, MESSAGE: TYPE_MESSAGE } = FieldDescriptorProto_Type;
const extensionSet = toBinary(
  FileDescriptorSetSchema,
  create(FileDescriptorSetSchema, {
    file: [
      {
        name: "t/base.proto",
        package: "t",
        messageType: [{ name: "Base", extensionRange: [{ start: 100, end: 200 }], nestedType: [{ name: "Inner" }] }],
      },
      {
        name: "t/ext.proto",
        package: "t",
        dependency: ["t/base.proto"],
        messageType: [{ name: "Holder", field: [{ name: "base", number: 1, label: LABEL_OPTIONAL, type: TYPE_MESSAGE, typeName: ".t.Base" }] }],
        extension: [
          { name: "note", number: 150, label: LABEL_OPTIONAL, type: TYPE_STRING, extendee: ".t.Base" },
          { name: "tag", number: 101, label: LABEL_OPTIONAL, type: TYPE_STRING, extendee: ".t.Base" },
        ],
      },
    ],
  }),
);

function names(res: ReturnType<typeof respond>): string[] {
  if (!("file_descriptor_response" in res)) throw new Error(`not a file answer: ${JSON.stringify(res)}`);
  return res.file_descriptor_response.file_descriptor_proto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
}

describe("server reflection answers", () => {
  const ext = new DescriptorIndex(extensionSet);
  const ask = (req: ReflectionRequest, index = ext) => respond(index, [], req);

  it.each<[string, ReflectionRequest, unknown]>([
    ["an extension by number", { message_request: "file_containing_extension", file_containing_extension: { containing_type: "t.Base", extension_number: 150 } }, ["t/ext.proto", "t/base.proto"]],
    ["an extension by name", { message_request: "file_containing_symbol", file_containing_symbol: "t.tag" }, ["t/ext.proto", "t/base.proto"]],
    ["a nested message, with a leading dot", { message_request: "file_containing_symbol", file_containing_symbol: ".t.Base.Inner" }, ["t/base.proto"]],
    ["a field", { message_request: "file_containing_symbol", file_containing_symbol: "t.Holder.base" }, ["t/ext.proto", "t/base.proto"]],
  ])("finds %s", (_, req, files) => {
    expect(names(ask(req))).toEqual(files);
  });

  it("lists the extension numbers of a type, NOT_FOUND for an unknown type", () => {
    expect(ask({ message_request: "all_extension_numbers_of_type", all_extension_numbers_of_type: "t.Base" })).toMatchObject({
      all_extension_numbers_response: { base_type_name: "t.Base", extension_number: [101, 150] },
    });
    expect(ask({ message_request: "all_extension_numbers_of_type", all_extension_numbers_of_type: "t.Holder" })).toMatchObject({
      all_extension_numbers_response: { extension_number: [] },
    });
    expect(ask({ message_request: "all_extension_numbers_of_type", all_extension_numbers_of_type: "t.Nope" })).toMatchObject({
      error_response: { error_code: status.NOT_FOUND },
    });
  });

  it("answers a missing extension and an empty request with errors that say what was asked", () => {
    const missing = ask({ message_request: "file_containing_extension", file_containing_extension: { containing_type: "t.Base", extension_number: 199 } });
    expect(missing).toMatchObject({ error_response: { error_code: status.NOT_FOUND, error_message: 'no extension 199 of "t.Base"' } });
    expect(ask({ host: "h" })).toMatchObject({ valid_host: "h", error_response: { error_code: status.INVALID_ARGUMENT } });
  });

  it("finds enum values in their enum's scope in Drover's own files", () => {
    const drover = new DescriptorIndex(readFileSync(descriptorSetPath));
    expect(names(ask({ message_request: "file_containing_symbol", file_containing_symbol: "drover.v1.VM_STATE_RUNNING" }, drover))[0]).toBe(
      "drover/v1/common.proto",
    );
  });

  it("refuses a set whose imports are missing", () => {
    const set = fromBinary(FileDescriptorSetSchema, extensionSet);
    set.file.shift();
    expect(() => new DescriptorIndex(toBinary(FileDescriptorSetSchema, set))).toThrow(/t\/base\.proto|t\.Base/);
  });
});
