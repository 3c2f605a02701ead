/** Number formats shared by the report's tables and verdict ('-' for a missing or non-finite value). */
export function finite(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
export const DASH = '-';
export const fAcc = (v: number | null | undefined): string => (finite(v) ? v.toFixed(2) : DASH);
export const fIou = (v: number | null | undefined): string => (finite(v) ? v.toFixed(3) : DASH);
export const fFrac = (v: number | null | undefined): string => (finite(v) ? `${(100 * v).toFixed(1)} %` : DASH);
export const fSigned = (v: number): string => `${v >= 0 ? '+' : '-'}${Math.abs(v).toFixed(2)}`;
export function fL2(v: number | null | undefined): string {
  if (!finite(v)) return DASH;
  return v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(3);
}
export function fInt(v: number | null | undefined): string {
  return finite(v) ? Math.round(v).toLocaleString('en-US') : DASH;
}
export function fNum(v: number | null | undefined, digits: number): string {
  return finite(v) ? v.toFixed(digits) : DASH;
}
export function fSeconds(v: number): string {
  if (!finite(v)) return DASH;
  if (v >= 120) return `${v.toFixed(0)} s (${(v / 60).toFixed(1)} min)`;
  return v >= 10 ? `${v.toFixed(1)} s` : `${v.toFixed(2)} s`;
}
