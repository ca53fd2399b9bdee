/**
 * Fix provenance: what differs between two cycles' deploys (build context files, deploy inputs,
 * suite), which checks flipped with it, and the chain of evidence behind each remaining issue.
 * Everything here is measured; what the fix command claims lives apart (FixRecord.notes).
 */
import { z } from 'zod';
import { checkStatusSchema, prioritySchema } from './check-result.js';

export const FILE_CHANGE_STATUSES = ['added', 'removed', 'modified', 'mode'] as const;

export const fileChangeSchema = z.object({
  path: z.string().describe('Relative to the build context, with `/` separators.'),
  status: z.enum(FILE_CHANGE_STATUSES).describe('mode: only the permission bits changed.'),
  added: z.number().int().describe('Lines added (0 for a binary file).'),
  removed: z.number().int().describe('Lines removed (0 for a binary file).'),
  binary: z.boolean().optional().describe('Not text: no line counts or diff.'),
  tooLarge: z.boolean().optional().describe('Over the size cap of the change store (or the store was full): no line counts or diff, and it cannot be reverted.'),
  symlink: z.boolean().optional().describe('A symbolic link (its target changed): no line counts.'),
  approximate: z.boolean().optional().describe('The diff had too many edits to align: the changed middle is counted as removed and added whole.'),
}).meta({ id: 'FileChange' });
export type FileChange = z.infer<typeof fileChangeSchema>;

export const cycleChangesSchema = z.object({
  sinceCycle: z.number().int().min(1).describe('The cycle compared with: the previous cycle of this reports folder that deployed.'),
  contextDigestBefore: z.string().optional(),
  contextDigestAfter: z.string().optional(),
  files: z.array(fileChangeSchema).describe('Files of the build context added, removed or modified, in path order.'),
  filesOmitted: z.number().int().optional().describe('Changed files not listed (over the list budget).'),
  diff: z.string().describe('Unified diff of the text files, redacted, cut to the diff budget.'),
  diffTruncated: z.boolean().describe('The diff was cut to its budget.'),
  commits: z
    .object({ from: z.string(), to: z.string(), subjects: z.array(z.string()) })
    .optional()
    .describe('When the context is a git work tree and HEAD moved: the commit range and its subjects.'),
  inputs: z.array(z.string()).describe('Deploy input fields that changed (`target.env.FAULT`, `target.command`); values are never stored.'),
  suite: z.array(z.string()).describe("The suite and gate changes, one sentence each (from the suite's integrity fingerprint)."),
}).meta({ id: 'CycleChanges' });
export type CycleChanges = z.infer<typeof cycleChangesSchema>;

export const REVERT_ACTIONS = ['restored', 'deleted'] as const;

export const revertRecordSchema = z.object({
  afterCycle: z.number().int().min(1).describe('The regressed cycle whose changes were reverted.'),
  toCycle: z.number().int().min(1).describe("The cycle whose build context the files were restored from."),
  files: z
    .array(z.object({ path: z.string(), action: z.enum(REVERT_ACTIONS).describe('restored: written back with its content and mode; deleted: the change had added it.') }))
    .describe('Each file written back or deleted, in path order; empty when the revert was refused.'),
  refused: z.string().optional().describe('Why nothing was reverted, naming the file: the loop went on without reverting.'),
}).meta({ id: 'RevertRecord' });
export type RevertRecord = z.infer<typeof revertRecordSchema>;

export const flipSchema = z.object({
  check: z.string(),
  priority: prioritySchema,
  before: checkStatusSchema,
  after: checkStatusSchema,
}).meta({ id: 'Flip' });
export type Flip = z.infer<typeof flipSchema>;

export const attributionSchema = z.object({
  sinceCycle: z.number().int().min(1),
  changed: z.array(z.string()).describe('What changed, as subjects: file paths (`pipeline.mjs +1 −1`), input fields, suite sentences.'),
  flipped: z.array(flipSchema).describe('Checks whose status changed between the two cycles.'),
  text: z.string().describe('The attribution as one sentence of fact.'),
  flaky: z.array(z.string()).describe('Checks that flipped while nothing changed: flaky, not fixed or broken.'),
  regressions: z.array(flipSchema).describe('Checks that passed before and fail now while something changed: a regression of that change.'),
}).meta({ id: 'Attribution' });
export type Attribution = z.infer<typeof attributionSchema>;

export const CHAIN_LINK_KINDS = ['symptom', 'log', 'frame', 'fix'] as const;

export const chainLinkSchema = z.object({
  kind: z.enum(CHAIN_LINK_KINDS),
  source: z.string().describe('Where the link was measured: `smoke check`, `service log`, `build context`, `cycle N changes`.'),
  text: z.string().describe('The link, or what is missing ("no log line in the window", "no frame in your source").'),
  missing: z.boolean().optional().describe('No evidence for this link was found.'),
  file: z.string().optional().describe('frame: path relative to the build context.'),
  line: z.number().int().optional(),
  excerpt: z.array(z.string()).optional().describe('frame: the source line with two lines around it, as `NN| text`.'),
}).meta({ id: 'ChainLink' });
export type ChainLink = z.infer<typeof chainLinkSchema>;

export const evidenceChainSchema = z.array(chainLinkSchema).describe('Symptom → log record → innermost user frame → fixing change; each link labelled with its source.');
export type EvidenceChain = z.infer<typeof evidenceChainSchema>;
