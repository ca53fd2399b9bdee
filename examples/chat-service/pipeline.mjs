/**
 * The agent pipeline behind /ws/agent: one user turn in, a stream of protocol frames out.
 *
 *   weather question  →  ack, tool_call(weather), final
 *   anything else     →  final (answered directly, nothing to wait for, so no ack)
 *
 * Frames are yielded already serialised, so the server only moves text; anything thrown here
 * (including a frame that cannot be serialised) ends the turn with close code 1011.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Short waits standing in for model and tool latency; kept tiny so smoke suites stay fast. */
const STEP_MS = { plan: 3, tool: 5, compose: 2 };

let turnCounter = 0;

/**
 * @param {string} text the user's message
 * @param {{ signal?: AbortSignal }} [opts] aborted when the client goes away mid-turn
 * @returns {AsyncGenerator<string>} JSON text frames
 */
export async function* agentTurn(text, opts = {}) {
  const { signal } = opts;
  const id = `turn-${++turnCounter}`;
  const city = findCity(text);

  if (city === undefined) {
    await sleep(STEP_MS.compose, undefined, { signal });
    const answer = smallTalk(text);
    yield encode({ type: 'final', id, text: answer, usage: countUsage(text, answer) });
    return;
  }

  yield encode({ type: 'ack', id });
  await sleep(STEP_MS.plan, undefined, { signal });
  const args = { city, unit: 'celsius' };
  yield encode({ type: 'tool_call', id, tool: 'weather', args });
  const report = await lookUpWeather(args, signal);
  await sleep(STEP_MS.compose, undefined, { signal });
  const answer = `It is ${report.temperature} °C and ${report.sky} in ${report.city}.`;
  yield encode({ type: 'final', id, text: answer, usage: countUsage(text, answer) });
}

/** Serialises one protocol frame. */
export function encode(frame) {
  return JSON.stringify(frame);
}

/** "weather in Zurich?" → "Zurich"; undefined when the message is not a weather question. */
export function findCity(text) {
  if (!/\bweather\b|\btemperature\b|\bforecast\b/i.test(text)) return undefined;
  const m = /\b(?:in|for|at)\s+([A-Z][\p{L}.'-]*(?:\s+[A-Z][\p{L}.'-]*)*)/u.exec(text);
  return m?.[1] ?? 'Zurich';
}

function smallTalk(text) {
  return /^\s*(hi|hello|hey)\b/i.test(text)
    ? 'Hello! Ask me about the weather somewhere.'
    : 'I can only help with the weather. Try: "What is the weather in Zurich?"';
}

/** A stand-in weather tool: deterministic per city, with a little latency. */
async function lookUpWeather({ city }, signal) {
  await sleep(STEP_MS.tool, undefined, { signal });
  let h = 0;
  for (const ch of city) h = (h * 31 + ch.codePointAt(0)) % 9973;
  const skies = ['sunny', 'cloudy', 'light rain', 'foggy', 'windy'];
  return { city, temperature: (h % 30) - 5, sky: skies[h % skies.length] };
}

/** Rough token estimate: about four characters per token, as most tokenisers average on English. */
function estimateTokens(text) {
  return Math.max(1, Math.ceil(text.length / 4));
}

/**
 * Precise token accounting: counts are kept as BigInt so long-running sessions can sum them
 * without ever losing precision past Number.MAX_SAFE_INTEGER.
 */
function countUsage(prompt, completion) {
  const promptTokens = BigInt(estimateTokens(prompt));
  const completionTokens = BigInt(estimateTokens(completion));
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}
