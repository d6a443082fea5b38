/**
 * Every ```ts block of the README and the guides is type-checked against the package's source, so the docs cannot
 * drift from the API. Each block becomes a module in which "symphony-pod-admin" resolves to src/index.ts; all of
 * them are checked by one TypeScript program with the project's strict options.
 *
 * A block may use top-level await and declared placeholders (`declare const items: AsyncIterable<…>;`). A block
 * that cannot be checked (rare: a fragment of a type, pseudo-code) opts out with `<!-- snippet: no-check -->` on the
 * line before its fence.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PACKAGE = "symphony-pod-admin";
const NO_CHECK = "<!-- snippet: no-check -->";

interface Snippet {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** 1-based position among the file's ts blocks. */
  block: number;
  /** 1-based line of the block's first code line in the Markdown file. */
  line: number;
  code: string;
  check: boolean;
}

function markdownFiles(): string[] {
  const docs = readdirSync(path.join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`);
  return ["README.md", ...docs];
}

/** The ```ts / ```typescript blocks of a Markdown text, indentation (inside list items) removed. */
function extractSnippets(file: string, markdown: string): Snippet[] {
  const lines = markdown.split(/\r?\n/);
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i] ?? "");
    if (!open) continue;
    const [, indent = "", fence = "```", lang = ""] = open;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[j] ?? "")) {
      const text = lines[j] ?? "";
      body.push(text.startsWith(indent) ? text.slice(indent.length) : text.trimStart());
      j++;
    }
    if (lang === "ts" || lang === "typescript") {
      let k = i - 1;
      while (k >= 0 && (lines[k] ?? "").trim() === "") k--;
      const check = (lines[k] ?? "").trim() !== NO_CHECK;
      snippets.push({ file, block: snippets.length + 1, line: i + 2, code: body.join("\n"), check });
    }
    i = j;
  }
  return snippets;
}

const snippets = markdownFiles().flatMap((file) => extractSnippets(file, readFileSync(path.join(ROOT, file), "utf8")));
const checked = snippets.filter((snippet) => snippet.check);

/** Diagnostics per snippet, as `README.md block 3 (line 57:12): TS2304 Cannot find name 'pod'.` */
const problems = new Map<Snippet, string[]>();
let workDir = "";

function compilerOptions(): ts.CompilerOptions {
  const configPath = path.join(ROOT, "tsconfig.json");
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, undefined, configPath);
  return {
    ...parsed.options,
    noEmit: true,
    // A snippet shows one thing; the values it builds on the way need not all be used.
    noUnusedLocals: false,
    noUnusedParameters: false,
    paths: { [PACKAGE]: [path.join(ROOT, "src/index.ts")] },
    typeRoots: [path.join(ROOT, "node_modules/@types")],
  };
}

function typeCheck() {
  // Inside node_modules so that the snippets' other imports (node:fs, csv-parse, …) resolve as in the project.
  const cacheDir = path.join(ROOT, "node_modules/.cache");
  mkdirSync(cacheDir, { recursive: true });
  workDir = mkdtempSync(path.join(cacheDir, "docs-snippets-"));
  writeFileSync(path.join(workDir, "package.json"), JSON.stringify({ type: "module" }));
  const byFile = new Map<string, Snippet>();
  for (const snippet of checked) {
    const name = path.join(workDir, `${snippet.file.replace(/[^\w]+/g, "_")}_${snippet.block}.ts`);
    // `export {}` makes every block a module, so top-level await is allowed and names do not clash between blocks.
    writeFileSync(name, `${snippet.code}\nexport {};\n`);
    byFile.set(path.normalize(name), snippet);
  }
  const program = ts.createProgram({ rootNames: [...byFile.keys()], options: compilerOptions() });
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  if (global.length > 0) {
    throw new Error(
      ts.formatDiagnostics(global, { ...ts.sys, getCanonicalFileName: (f) => f, getNewLine: () => "\n" }),
    );
  }
  for (const [name, snippet] of byFile) {
    const source = program.getSourceFile(name);
    if (!source) throw new Error(`${snippet.file} block ${snippet.block}: not part of the program`);
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    problems.set(
      snippet,
      diagnostics.map((diagnostic) => {
        const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n  ");
        const at = diagnostic.start === undefined ? undefined : source.getLineAndCharacterOfPosition(diagnostic.start);
        const where = at ? `line ${snippet.line + at.line}:${at.character + 1}` : `line ${snippet.line}`;
        return `${snippet.file} block ${snippet.block} (${where}): TS${diagnostic.code} ${message}`;
      }),
    );
  }
}

beforeAll(typeCheck, 60_000);
afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("code snippets in the README and docs/*.md", () => {
  it("finds the ts blocks of every guide, and the README's usage example among them", () => {
    const files = new Set(checked.map((snippet) => snippet.file));
    for (const guide of ["README.md", "docs/getting-started.md", "docs/errors-and-retries.md", "docs/bulk.md"]) {
      expect(files, `${guide} has no checked ts block`).toContain(guide);
    }
    expect(readFileSync(path.join(ROOT, "README.md"), "utf8")).toContain("<!-- readme-example: usage -->");
  });

  for (const file of markdownFiles()) {
    const blocks = snippets.filter((snippet) => snippet.file === file);
    if (blocks.length === 0) continue;
    describe(file, () => {
      for (const snippet of blocks) {
        const name = `block ${snippet.block} (line ${snippet.line}) type-checks`;
        if (!snippet.check) {
          it.skip(`${name} (${NO_CHECK})`, () => {});
          continue;
        }
        it(name, () => {
          expect(problems.get(snippet)).toEqual([]);
        });
      }
    });
  }
});
