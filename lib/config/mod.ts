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
  type AuthConfig,
  type Check,
  CLOUD_KEYS,
  type Config,
  ConfigError,
  type ConfigLogLevel,
  defaultConfig,
  EDGE_KEYS,
  type EdgeConfig,
  type HooksConfig,
  type KeySpec,
  keySpec,
  type LimitsConfig,
  resolveAddresses,
  type ResolvedAddresses,
  type SectionName,
  SECTIONS,
} from "./schema.ts";
export {
  applyOverrides,
  type CommandLine,
  configFromYaml,
  helpText,
  loadConfig,
  parseCommandLine,
  type Role,
} from "./load.ts";
