// ESLint (flat config) with typescript-eslint's parser. Kept to rules that guard the structure of
// docs/architecture.md#boundaries and catch real mistakes; formatting is not linted. The import
// boundaries that need the whole import graph (cycles, capability internals, the composition root,
// the test harness) are checked by test/architecture/boundaries.test.ts; this config holds the
// per-file rules. Run by `npm test` (`npm run lint`).
import tseslint from 'typescript-eslint';

const PROCESS_ENV = {
  object: 'process',
  property: 'env',
  message: 'Settings are read and validated once, in src/config.ts; take them from the Config.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'src/web/app/dist/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Untyped JSON from the wire is `any` in a few parsers and many tests; the type checker and
      // the contract schemas are the guard there.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      'no-restricted-properties': ['error', PROCESS_ENV],
      'no-restricted-syntax': [
        'error',
        {
          selector: "VariableDeclarator[init.name='process'] > ObjectPattern > Property[key.name='env']",
          message: PROCESS_ENV.message,
        },
      ],
      'no-self-compare': 'error',
    },
  },
  {
    // The one place settings come from, and code that is not the product: tests, the test harness,
    // build configuration, benchmarks and scripts read their own environment.
    files: [
      'src/config.ts',
      '**/*.test.ts',
      '**/*.test.tsx',
      '**/test-support/**',
      '**/testing.ts',
      'test/**',
      'bench/**',
      'scripts/**',
      'vitest.config.ts',
      'src/web/app/vite.config.ts',
    ],
    rules: { 'no-restricted-properties': 'off', 'no-restricted-syntax': 'off', '@typescript-eslint/no-unused-expressions': 'off' },
  },
);
