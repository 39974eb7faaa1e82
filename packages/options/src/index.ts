export * from "./option-table.js";
export * from "./option-kinds.js";
