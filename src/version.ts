/** The running Sluice version, reported by the CLI and /healthz. */
export const VERSION = '0.1.0';
