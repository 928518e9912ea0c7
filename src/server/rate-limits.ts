// Scaffold: filled in by the rate-limit work.
export class RateLimits {}
