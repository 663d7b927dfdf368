import { expect } from "chai";
import { readFileSync } from "node:fs";
import { NodeStatus, ReleaseOutcome, TaskAbortReason, TaskError, TaskStatus, TaskType } from "../../src/types.js";

/** Member names of `enum <name> { ... }` in a Solidity source, in order. */
function solidityEnum(file: string, name: string): string[] {
  const source = readFileSync(file, "utf8").replace(/\/\/[^\n]*/g, "");
  const match = new RegExp(`enum\\s+${name}\\s*\\{([^}]*)\\}`).exec(source);
  if (!match) throw new Error(`enum ${name} not found in ${file}`);
  return match[1]
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Member names of a numeric TypeScript enum, in value order. */
function tsEnum(e: Record<string, string | number>): string[] {
  return Object.entries(e)
    .filter(([, v]) => typeof v === "number")
    .sort(([, a], [, b]) => Number(a) - Number(b))
    .map(([k]) => k);
}

describe("unit: TypeScript enums mirror the Solidity interfaces", function () {
  const types = "contracts/interfaces/ITaskTypes.sol";
  const registry = "contracts/interfaces/INodeRegistry.sol";
  const cases: Array<[string, string, Record<string, string | number>]> = [
    [types, "TaskStatus", TaskStatus],
    [types, "TaskType", TaskType],
    [types, "TaskAbortReason", TaskAbortReason],
    [types, "TaskError", TaskError],
    [registry, "NodeStatus", NodeStatus],
    [registry, "ReleaseOutcome", ReleaseOutcome],
  ];
  for (const [file, name, tsValue] of cases) {
    it(`${name} has the same members in the same order`, function () {
      expect(tsEnum(tsValue)).to.deep.equal(solidityEnum(file, name));
    });
  }
});
