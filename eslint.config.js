// ESLint: typescript-eslint's recommended rules plus the architecture's boundaries
// (../shared/ARCHITECTURE.md), enforced so that a wrong import fails `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const frameworkImports = [
  { group: ['express', 'express/*', 'express-openapi-validator'], message: 'HTTP belongs in src/http/.' },
  { group: ['@prisma/*', 'prisma', 'pg', 'pg-*', '**/storage/**', '**/generated/**'], message: 'The database belongs in src/storage/.' },
  { group: ['node-cron'], message: 'Schedules belong in src/scheduler/.' },
  { group: ['pino'], message: 'Logging is wired in src/bin/.' },
];

const noProcessEnv = {
  selector: "MemberExpression[object.name='process'][property.name='env']",
  message: 'Read configuration in src/config/ and pass it in.',
};
const noAmbientClock = {
  selector: "NewExpression[callee.name='Date'][arguments.length=0]",
  message: 'Use the injected Clock.',
};
const noDateNow = {
  selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
  message: 'Use the injected Clock.',
};
const noMathRandom = {
  selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
  message: 'Use the injected RandomSource.',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'src/storage/generated/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...frameworkImports, { group: ['**/app/**', '**/keys/**', '**/http/**', '**/auth/**', '**/bin/**', '**/config/**', '**/scheduler/**'], message: 'The domain imports only itself and @peculiar/*.' }] }],
      'no-restricted-syntax': ['error', noProcessEnv, noAmbientClock, noDateNow, noMathRandom],
    },
  },
  {
    files: ['src/app/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...frameworkImports, { group: ['**/keys/**', '**/http/**', '**/bin/**', '**/scheduler/**'], message: 'Use cases depend on domain ports, never on adapters.' }] }],
      'no-restricted-syntax': ['error', noProcessEnv, noAmbientClock, noDateNow, noMathRandom],
    },
  },
  {
    files: ['src/http/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/storage/**', '@prisma/*', 'pg', '**/keys/**', 'node-cron'], message: 'HTTP talks to use cases, not adapters.' }] }],
      'no-restricted-syntax': ['error', noProcessEnv],
    },
  },
  {
    files: ['src/keys/**/*.ts', 'src/storage/**/*.ts', 'src/auth/**/*.ts', 'src/contracts/**/*.ts', 'src/client/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', noProcessEnv] },
  },
  {
    files: ['src/contracts/**/*.ts', 'src/client/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/domain/**', '**/app/**', '**/storage/**', '**/http/**', '**/keys/**', '**/auth/**'], message: 'The client side depends on contracts/ only.' }] }],
    },
  },
);
