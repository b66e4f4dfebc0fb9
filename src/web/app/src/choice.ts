/** The option of `options` that `value` names (a select's value), else `fallback`: a guard, not a cast. */
export function choice<T extends string>(options: readonly T[], value: string, fallback: T): T {
  return options.find((o) => o === value) ?? fallback;
}
