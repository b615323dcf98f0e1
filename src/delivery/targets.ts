/**
 * Checks of a delivery target that the API, the schedule runner and the start share: the limit key
 * of a URL, and the early refusal of a literal private address. The node implements them (it holds
 * the SSRF guard and its allow list).
 */
export interface TargetCheck {
  /** The limit key of a target URL; a 400 when it is not an http(s) URL. */
  domainOf(url: string): string;
  /** Refuse a target whose literal host is an address the SSRF guard refuses; `field` names it in the 400. */
  refuseForbiddenTarget(url: string, domain: string, field: string): void;
}
