import { getVm, type Db, type Vm } from "@drover/store";
import { NotFoundError } from "../errors.js";

/** The VM with this id (validated, as the client wrote it: the error repeats it); NotFoundError when there is none. */
export async function mustGetVm(db: Db, id: string): Promise<Vm> {
  const vm = await getVm(db, id.toLowerCase());
  if (!vm) throw new NotFoundError("vm", id);
  return vm;
}
