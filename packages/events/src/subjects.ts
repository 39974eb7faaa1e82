// NATS subjects: drover.vm.<state> and drover.node.<state>, all in one stream.

export const STREAM_NAME = "DROVER";
export const ALL_SUBJECTS = "drover.>";
export const VM_SUBJECT_PREFIX = "drover.vm.";
export const NODE_SUBJECT_PREFIX = "drover.node.";

export const vmSubject = (state: string) => `${VM_SUBJECT_PREFIX}${state.toLowerCase()}`;
export const nodeSubject = (state: string) => `${NODE_SUBJECT_PREFIX}${state.toLowerCase()}`;
