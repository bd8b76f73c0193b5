import type { LintRule } from './lint-rule.ts';

/** Each extension at most once: verifiers disagree on which duplicate wins, so none may exist. */
export const noDuplicateExtensions: LintRule = {
  id: 'no-duplicate-extensions',
  source: 'RFC 5280 4.2 (a certificate MUST NOT include more than one instance of an extension)',
  check(template) {
    const seen = new Set<string>();
    for (const extension of template.extensions) {
      if (seen.has(extension.type)) return `extension ${extension.type} appears more than once`;
      seen.add(extension.type);
    }
    return undefined;
  },
};
