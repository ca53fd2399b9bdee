/** Traffic as Cloud Run shapes it: revisions with a share and an optional tag. */
import { z } from 'zod';

/** One entry of a traffic split: a revision's share and its tag (a tag may sit on a 0% revision). */
export const trafficEntrySchema = z.object({
  revision: z.string(),
  percent: z.number().min(0).max(100),
  tag: z.string().optional(),
}).meta({ id: 'TrafficEntry' });
export type TrafficEntry = z.infer<typeof trafficEntrySchema>;
