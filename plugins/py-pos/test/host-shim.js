// Stand-ins for the venue:edge host imports, for tests in Node.
export const logged = [];
export function log(level, message) { logged.push([level, message]); }
export function now() { return '2026-11-25T09:00:00+08:00'; }
export function nowMs() { return 0n; }
export function today() { return '2026-11-25'; }
export function get(key) { return undefined; }
export function set(key, value) { return undefined; }
function del(key) {}
export { del as delete };
