/**
 * Keystroke dynamics ("typing pattern"): the public API.
 *   features.ts  key events → timing sample (mirror of public/js/keystroke-recorder.js); server-side
 *                validation of the hidden field (parseSample)
 *   template.ts  per-user template (JSON / jsonb): createTemplate, updateTemplate, parseTemplate
 *   matcher.ts   score, accept (DEFAULT_THRESHOLD), isReplay
 * Benchmark: bench/keystroke.ts (`npm run bench:keystroke`).
 */
export {
  CONSISTENCY_TOLERANCE,
  extractFeatures,
  isValidSentence,
  MAX_SAMPLE_JSON_LENGTH,
  parseSample,
  roundFeature,
  SAMPLE_BOUNDS,
  SENTENCE_LENGTH,
  type Extraction,
  type KeyEvent,
  type KeyStroke,
  type NonKeyInput,
  type RefusalReason,
  type Sample,
} from './features.ts';
export {
  createTemplate,
  featureVector,
  parseTemplate,
  templateSamples,
  updateTemplate,
  WINDOW,
  type Template,
  type TemplateOptions,
} from './template.ts';
export { accept, DEFAULT_THRESHOLD, ENROLLMENT_ONLY_FACTOR, isReplay, REPLAY_TOLERANCE, score, type ScoreOptions } from './matcher.ts';
