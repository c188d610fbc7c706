/**
 * Short texts for the session menus: how long ago, for how long, who watches, what runs. Pure,
 * so the wording is testable.
 * @module
 */
import type { ViewerRole } from '../protocol/v1.js';

/** `45 s`, `12 min`, `3 h 05 min`, `2 d 4 h`. */
export function describeDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** `just now`, `5 min ago`, from a time in milliseconds (or ISO text) and `now`. */
export function describeAgo(when: number | string, now: number): string {
  const at = typeof when === 'string' ? Date.parse(when) : when;
  if (!Number.isFinite(at)) return 'at an unknown time';
  const seconds = (now - at) / 1000;
  return seconds < 5 ? 'just now' : `${describeDuration(seconds)} ago`;
}

/** `in 59 min`, `expired`. */
export function describeExpiry(expiresAt: number | string, now: number): string {
  const at = typeof expiresAt === 'string' ? Date.parse(expiresAt) : expiresAt;
  if (!Number.isFinite(at)) return 'expiry unknown';
  const seconds = (at - now) / 1000;
  return seconds <= 0 ? 'expired' : `expires in ${describeDuration(seconds)}`;
}

const ROLE_TEXT: Readonly<Record<ViewerRole, string>> = {
  owner: 'owner',
  writer: 'can type',
  reader: 'read-only',
};

export function describeRole(role: ViewerRole): string {
  return ROLE_TEXT[role] ?? role;
}

/** `1 screen (owner)`, `3 screens (owner, 2 read-only)`, `no screen`. */
export function describeViewers(viewers: readonly { readonly role: ViewerRole }[]): string {
  if (viewers.length === 0) return 'no screen';
  const counts = new Map<ViewerRole, number>();
  for (const viewer of viewers) {
    counts.set(viewer.role, (counts.get(viewer.role) ?? 0) + 1);
  }
  const parts = (['owner', 'writer', 'reader'] as const)
    .filter((role) => counts.has(role))
    .map((role) => {
      const count = counts.get(role) as number;
      const text = describeRole(role);
      return count === 1 ? text : `${count} ${role === 'owner' ? 'owners' : text}`;
    });
  const noun = viewers.length === 1 ? 'screen' : 'screens';
  return `${viewers.length} ${noun} (${parts.join(', ')})`;
}

/** A command line as a shell would show it: arguments with spaces or quotes are quoted. */
export function describeCommand(command: readonly string[]): string {
  if (command.length === 0) return 'shell';
  return command
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`))
    .join(' ');
}
