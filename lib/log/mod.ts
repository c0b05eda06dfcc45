/**
 * Logging for every flvcast component.
 *
 * @module
 */
export {
  createLogger,
  formatLine,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  nullLogger,
} from "./logger.ts";
export { RateLimitedLog, type RateLimitedLogOptions } from "./rate_limited.ts";
