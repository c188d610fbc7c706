// ESLint flat config: type-aware typescript-eslint, no import cycles, and the layering rule that
// only the CLI touches process-global state (argv, exit, signal handlers).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const PROCESS_GLOBALS = [
  {
    selector: "MemberExpression[object.name='process'][property.name='argv']",
    message: 'Only src/cli reads process.argv; take the value as a parameter.',
  },
  {
    selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']",
    message: 'Only src/cli may call process.exit; return or throw instead.',
  },
  {
    selector:
      "CallExpression[callee.object.name='process'][callee.property.name=/^(on|once|addListener)$/]",
    message: 'Only src/cli installs process handlers (signals); take an AbortSignal instead.',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-results/', '.scratch/', '.bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: [
          './src/protocol/tsconfig.json',
          './src/server/tsconfig.json',
          './src/client/tsconfig.json',
          './src/cli/tsconfig.json',
          './tsconfig.spec.json',
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-cycle': 'error',
      '@typescript-eslint/explicit-function-return-type': [
        'error',
        {
          allowExpressions: true,
          allowTypedFunctionExpressions: true,
          allowHigherOrderFunctions: true,
        },
      ],
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'typeLike',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: false },
        },
        {
          selector: 'memberLike',
          modifiers: ['private'],
          format: ['camelCase'],
          leadingUnderscore: 'require',
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    files: ['src/server/**/*.ts', 'src/protocol/**/*.ts', 'src/client/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-syntax': ['error', ...PROCESS_GLOBALS] },
  },
  {
    // Tests, scripts and benchmarks: looser typing where node:test and fixtures make it noisy.
    files: [
      '**/*.test.ts',
      'test/**/*.ts',
      'bench/**/*.ts',
      'scripts/**/*.mjs',
      'examples/**/*.ts',
    ],
    rules: {
      '@typescript-eslint/explicit-function-return-type': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
);
