/**
 * Configuration: the YAML file, command-line flags and their validation.
 *
 * @module
 */
export {
  type Address,
  formatAddress,
  isMulticastV4,
  parseAddress,
  type ParseAddressOptions,
} from "./address.ts";
export {
  allKeys,
  type Config,
  ConfigError,
  defaultConfig,
  keySpec,
  resolveAddresses,
  type ResolvedAddresses,
  type SectionName,
  SECTIONS,
} from "./schema.ts";
export { type Check, type KeySpec } from "./checks.ts";
export {
  CLOUD_KEYS,
  type CloudConfig,
  type ConfigLogLevel,
} from "./cloud_keys.ts";
export { EDGE_KEYS, type EdgeConfig } from "./edge_keys.ts";
export {
  type AuthConfig,
  type HooksConfig,
  type LimitsConfig,
} from "./access_keys.ts";
export {
  applyOverrides,
  type CommandLine,
  configFromYaml,
  helpText,
  loadConfig,
  parseCommandLine,
  type Role,
} from "./load.ts";
