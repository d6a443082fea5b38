/**
 * Every ```ts block of the README and the guides is type-checked against the package's source, so the docs cannot
 * drift from the API. Each block becomes a module in which "symphony-pod-admin" resolves to src/index.ts and
 * "symphony-pod-admin/simulator" to src/simulator/index.ts; all of them are checked by one TypeScript program with
 * the project's strict options.
 *
 * A block may use top-level await and declared placeholders (`declare const items: AsyncIterable<…>;`). A block
 * that cannot be checked (rare: a fragment of a type, pseudo-code) opts out with `<!-- snippet: no-check -->` on the
 * line before its fence.
 *
 * The `@example` blocks of the TSDoc comments in src/ (the ones the typedoc reference shows) are checked by the same
 * program. They are shorter: every export of the package's main entry is in scope (and, for the simulator's own
 * examples, every export of `symphony-pod-admin/simulator`), and so are the names they commonly assume
 * (`pod`, `uid`, `uids`, `items`, `report`, …, see {@link TSDOC_PRELUDE}); examples of `@internal` declarations
 * are left out, as the reference does.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PACKAGE = "symphony-pod-admin";
const SIMULATOR = `${PACKAGE}/simulator`;
const NO_CHECK = "<!-- snippet: no-check -->";

interface Snippet {
  /** The Markdown or source file, relative to the repository root. */
  file: string;
  /** 1-based position among the file's ts blocks. */
  block: number;
  /** 1-based line of the block's first code line in the file. */
  line: number;
  code: string;
  check: boolean;
  /** TSDoc examples run inside a block, after the prelude. */
  tsdoc?: boolean;
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

function sourceFiles(dir = "src"): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? sourceFiles(`${dir}/${entry.name}`)
        : entry.name.endsWith(".ts")
          ? [`${dir}/${entry.name}`]
          : [],
    )
    .sort();
}

/** The ```ts blocks of a source file's `/** … *\/` comments, except in comments tagged `@internal`. */
function extractExamples(file: string, source: string): Snippet[] {
  const examples: Snippet[] = [];
  for (const comment of source.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    if (/@internal\b/.test(comment[0])) continue;
    const firstLine = source.slice(0, comment.index).split("\n").length;
    const lines = comment[0].split("\n").map((line) => line.replace(/^\s*\/?\*+\/?\s?/, ""));
    const text = lines.join("\n");
    for (const snippet of extractSnippets(file, text)) {
      examples.push({ ...snippet, line: firstLine + snippet.line - 1, block: 0, tsdoc: true });
    }
  }
  return examples.map((example, i) => ({ ...example, block: i + 1 }));
}

interface Exports {
  values: string[];
  /** Imported with `type`, as `verbatimModuleSyntax` wants. */
  types: string[];
}

/** The names a module exports: `export { … }` lists and exported declarations. */
function moduleExports(file: string): Exports {
  const source = readFileSync(path.join(ROOT, file), "utf8");
  const values: string[] = [];
  const types: string[] = [];
  for (const [, typeOnly, names = ""] of source.matchAll(/^export\s+(type\s+)?\{([^}]*)\}/gm)) {
    for (const raw of names.split(",")) {
      const name = raw.trim();
      if (!name) continue;
      if (typeOnly || name.startsWith("type ")) types.push(name.replace(/^type\s+/, ""));
      else values.push(name);
    }
  }
  for (const [, kind, name = ""] of source.matchAll(
    /^export\s+(?:declare\s+)?(?:async\s+)?(function\*?|class|const|let|interface|type|enum)\s+(\w+)/gm,
  )) {
    if (kind === "interface" || kind === "type") types.push(name);
    else values.push(name);
  }
  // A value import brings a type of the same name along (`const Fault` and `type Fault`).
  return { values: [...new Set(values)], types: [...new Set(types)].filter((name) => !values.includes(name)) };
}

/** What the TSDoc examples may assume, declared before each of them (which then runs in a block of its own). */
const TSDOC_PRELUDE = `
declare const pod: Pkg.PodClient & Sim.SimulatedPod;
declare const client: Pkg.PodClient;
declare const uid: bigint;
declare const uids: bigint[];
declare const items: Pkg.FeatureUpdateItem[];
declare const report: Pkg.BulkReport<Pkg.FeatureUpdateItem>;
declare const baseUrl: string;
declare const sessionToken: string;
declare const token: string;
declare const myVault: { read(path: string): Promise<{ token: string }> };
declare const failures: { write(line: string): void };
declare function readRows(path: string): AsyncIterable<Pkg.FeatureUpdateItem>;
declare const expect: typeof import("vitest").expect;
declare const afterEach: typeof import("vitest").afterEach;
`;

/**
 * A TSDoc example as a module: its own imports; the package's exports (with the simulator's, for an example of the
 * simulator) and those of the module it documents, unless it imports them itself; the prelude; then its code, in a
 * block so that it may redeclare the prelude's names.
 */
function tsdocModule(example: Snippet, pkg: Exports, sim: Exports): { code: string; offset: number } {
  const lines = example.code.split("\n");
  const imports = lines.filter((line) => /^import\s/.test(line));
  const body = lines.map((line) => (/^import\s/.test(line) ? "" : line));
  const own = new Set(
    imports
      .filter((line) => line.includes(`"${PACKAGE}"`) || line.includes(`"${SIMULATOR}"`))
      .flatMap((line) => /\{([^}]*)\}/.exec(line)?.[1]?.split(",") ?? [])
      .map((name) => name.trim().replace(/^type\s+/, "")),
  );
  const importList = (exports: Exports) =>
    [
      ...exports.values.filter((name) => !own.has(name)),
      ...exports.types.filter((name) => !own.has(name)).map((name) => `type ${name}`),
    ].join(", ");
  const fromPackage = importList(pkg);
  for (const name of [...pkg.values, ...pkg.types]) own.add(name);
  const ofSimulator = example.file.startsWith("src/simulator/");
  const fromSimulator = ofSimulator ? importList(sim) : "";
  if (ofSimulator) for (const name of [...sim.values, ...sim.types]) own.add(name);
  const fromModule = importList(moduleExports(example.file));
  const modulePath = path.join(ROOT, example.file).replace(/\.ts$/, ".js");
  const header = [
    ...imports,
    `import { ${fromPackage} } from "${PACKAGE}";`,
    `import { ${fromSimulator} } from "${SIMULATOR}";`,
    `import { ${fromModule} } from ${JSON.stringify(modulePath)};`,
    `import type * as Pkg from "${PACKAGE}";`,
    `import type * as Sim from "${SIMULATOR}";`,
    TSDOC_PRELUDE,
    "{",
  ].join("\n");
  return { code: `${header}\n${body.join("\n")}\n}\n`, offset: header.split("\n").length };
}

const snippets = [
  ...markdownFiles().flatMap((file) => extractSnippets(file, readFileSync(path.join(ROOT, file), "utf8"))),
  ...sourceFiles().flatMap((file) => extractExamples(file, readFileSync(path.join(ROOT, file), "utf8"))),
];
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
    paths: {
      [PACKAGE]: [path.join(ROOT, "src/index.ts")],
      [SIMULATOR]: [path.join(ROOT, "src/simulator/index.ts")],
    },
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
  const offsets = new Map<Snippet, number>();
  const pkg = moduleExports("src/index.ts");
  const sim = moduleExports("src/simulator/index.ts");
  for (const snippet of checked) {
    const name = path.join(workDir, `${snippet.file.replace(/[^\w]+/g, "_")}_${snippet.block}.ts`);
    const { code, offset } = snippet.tsdoc ? tsdocModule(snippet, pkg, sim) : { code: snippet.code, offset: 0 };
    offsets.set(snippet, offset);
    // `export {}` makes every block a module, so top-level await is allowed and names do not clash between blocks.
    writeFileSync(name, `${code}\nexport {};\n`);
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
        const line = at ? snippet.line + at.line - (offsets.get(snippet) ?? 0) : snippet.line;
        const where = at ? `line ${line}:${at.character + 1}` : `line ${line}`;
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

  for (const file of [...markdownFiles(), ...sourceFiles()]) {
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
