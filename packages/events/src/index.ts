export * from "./subjects.js";
export * from "./publisher.js";
export * from "./subscriber.js";
