export * from "./subjects.js";
export * from "./publisher.js";
