'use strict'

const regexp = require('eslint-plugin-regexp')

module.exports = [
  ...require('neostandard')({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'scratch/**', 'node_modules/**', '.readme-snippets-*/**']
  }),
  regexp.configs.recommended,
  // Request input reaches regular expressions: reject any that can take super-linear time.
  { rules: { 'regexp/no-super-linear-backtracking': 'error', 'regexp/no-super-linear-move': 'error' } }
]
