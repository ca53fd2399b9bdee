/** A line of a revision's output with the wall-clock time it was captured (epoch ms). */
export interface TimedLine {
  at: number;
  text: string;
}
