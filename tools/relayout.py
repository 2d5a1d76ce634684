#!/usr/bin/env python3
"""Move gradcli's flat modules into one folder per layer, and rewrite every import and mention.

Run it once, from the repository root, on a work tree without uncommitted changes:

    python3 tools/relayout.py            # moves (git mv), rewrites, checks; prints what it did
    python3 tools/relayout.py --dry-run  # only says where each module would go

then review `git diff --staged -M`/`git status`, run the tests, and commit (and delete this script).
Everything it does is staged: `git reset --hard` undoes it. It refuses to run twice (a layer
folder already holds modules) and stops, changing nothing, at a module it has no place for: add
it to PLACE below, or pass `--put NAME=FOLDER` (e.g. `--put jvp=differentiation`).

What it does:
  1. `git mv gradcli/NAME.py gradcli/FOLDER/NAME.py` for every module of PLACE that exists
     (modules of PLACE that do not exist are skipped), and writes gradcli/FOLDER/__init__.py
     with the layer's description; gradcli/render/ stays where it is.
  2. Rewrites, in every tracked text file (gradcli/, tests/, bench/, examples/, docs, README.md,
     pyproject.toml, .ci/):
       - import statements (found with the ast module, at any depth): relative ones inside the
         package are recomputed from the importing module's new place; absolute ones
         (`from gradcli.engine import run`, `from gradcli import engine, parser`, split when the
         names now live in different folders, `import gradcli.engine as engine`);
       - every other mention of a moved module: `gradcli.engine` (code, strings, docstrings,
         `python -m gradcli.lalr_update`, pyproject's entry points) and the path
         `gradcli/engine.py` (README links, docstrings);
       - lines marked `# relayout: remove` are deleted (tests/test_layout.py's skip while flat).
     A moved module's name that is also an attribute of the `gradcli` package itself (the API
     function gradcli.hessian beside the module gradcli/hessian.py) is rewritten only where it
     is surely the module (imports, `gradcli.NAME.attr`, paths); other mentions are listed.
  3. Checks that every Python file still compiles, and lists what it left for a person to judge.

The grammar file needs nothing: it stays at grammar/gradcli.lark (the wheel puts it at
gradcli/grammar/gradcli.lark) and gradcli.parser.grammar_path() finds the package root at any depth.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

# The layers, lowest first (tests/test_layout.py holds the same order and enforces it), with the
# text of each folder's __init__.py.
FOLDERS = {
    "base": "The ground every layer stands on: the GradcliError family (errors.py), the program text\n"
            "and its spans (source.py), writing an output file whole (outfile.py). Imports nothing of gradcli.",
    "core": "The op registry and the graph: ops.py (one entry per op: forward, derivative rule, role,\n"
            "kinks, domain; a new function goes there), graph.py (nodes in topological order), trace.py\n"
            "(what a run found: Result, NodeTrace, Edge, Diagnostic), kernels.py (one gate on arrays).",
    "differentiation": "Derivatives as graphs: derivative.py builds the reverse-mode derivative of a graph as\n"
                       "gates of registry ops, so it can be evaluated, printed and differentiated again.",
    "language": "Text <-> graph: parser.py (over the LALR tables of lalr*.py, generated from\n"
                "grammar/gradcli.lark), composite.py (user functions and built-in composites), printer.py\n"
                "(a graph back to source), formula.py (a derivative as a formula for people, text or LaTeX),\n"
                "rewrite.py (--stable), symbolic.py (the SymPy bridge).",
    "inputs": "Values for the variables: value text and Python objects (values.py), data files\n"
              "(datafiles.py), the command line's NAME=VALUE, --values and @FILE (arguments.py).",
    "evaluation": "Graph + values -> Result: evaluator.py runs scalar_engine.py (Python floats) or\n"
                  "engine.py (NumPy); shapes.py checks shapes and memory before a run; check.py compares\n"
                  "with finite differences; hessian.py evaluates second derivatives; formulas.py the\n"
                  "derivatives `gradcli diff` prints, with their values.",
    "commands": "What a user runs: the command line (cli.py; a new command goes there), its help pages\n"
                "(helptext.py), batch runs (batch.py). Only here are exit codes, stdin, terminals and\n"
                "colours known.",
}
PLACE = {
    "errors": "base", "source": "base", "outfile": "base",
    "ops": "core", "graph": "core", "trace": "core", "kernels": "core",
    "derivative": "differentiation",
    "lalr": "language", "lalr_reference": "language", "lalr_tables": "language", "lalr_build": "language",
    "lalr_update": "language", "composite": "language", "parser": "language", "printer": "language",
    "rewrite": "language", "symbolic": "language",
    "values": "inputs", "datafiles": "inputs", "arguments": "inputs",
    "shapes": "evaluation", "engine": "evaluation", "scalar_engine": "evaluation", "evaluator": "evaluation",
    "check": "evaluation", "hessian": "evaluation",
    # `gradcli diff`'s derivatives with their values (it evaluates): below render/diffview.py
    "formulas": "evaluation",
    # a module of render/ that is a printer of graphs (language, as printer.py), not of Results:
    # formulas.py (evaluation) imports it. Keys "render.NAME" move a module out of render/.
    "render.formula": "language",
    "cli": "commands", "helptext": "commands", "batch": "commands",
}
# The Python API stays at the top, above every layer, under the names users import:
# gradcli/__init__.py (parse, evaluate, ...), gradcli.testing (assert_gradients), the pytest plugin
# (its entry point), and __main__.py (python -m gradcli).
STAY = {"__init__", "__main__", "testing", "pytest_plugin"}
PACKAGES_THAT_STAY = {"render"}  # already a folder: only its imports are rewritten
PKG = "gradcli"
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".lark", ".json", ".rst", ""}
MARK = "# relayout: remove"


def fail(message: str) -> None:
    sys.exit(f"relayout: {message}")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def plan(put: dict[str, str]) -> dict[str, str]:
    """old dotted name -> new dotted name, for every module and package of gradcli."""
    place = {**PLACE, **put}
    package = Path(PKG)
    unknown_folders = set(place.values()) - set(FOLDERS) - PACKAGES_THAT_STAY
    if unknown_folders:
        fail(f"no such layer folder: {sorted(unknown_folders)} "
             f"(the folders: {', '.join([*FOLDERS, *PACKAGES_THAT_STAY])})")
    # (a folder left by an undone run, `git reset --hard`, holds only __pycache__: not a layout)
    existing = [name for name in FOLDERS if any((package / name).glob("*.py"))]
    if existing:
        fail(f"gradcli/{existing[0]}/ exists already: the package has been relaid out (this runs once)")
    mapping = {PKG: PKG}
    strays = []
    for path in sorted(package.iterdir()):
        if path.name in ("__pycache__",) or path.name.startswith("."):
            continue
        if path.is_dir():
            if path.name in PACKAGES_THAT_STAY:
                for inner in sorted(path.rglob("*.py")):
                    parts = inner.relative_to(package.parent).with_suffix("").parts
                    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                    key = name.split(".", 1)[1]  # render.formula
                    folder = place.get(key, parts[1])
                    mapping[name] = name if folder == parts[1] else f"{PKG}.{folder}.{parts[-1]}"
            elif path.name == "grammar" or not any(path.rglob("*.py")):
                continue  # data (a wheel-style grammar folder), not code
            else:
                strays.append(f"gradcli/{path.name}/ (a package)")
            continue
        if path.suffix != ".py":
            continue
        stem = path.stem
        if stem in STAY:
            if stem != "__init__":
                mapping[f"{PKG}.{stem}"] = f"{PKG}.{stem}"
        elif stem in place:
            if (package / place[stem] / path.name).exists():
                fail(f"gradcli/{place[stem]}/{path.name} exists already: give gradcli/{path.name} another place")
            mapping[f"{PKG}.{stem}"] = f"{PKG}.{place[stem]}.{stem}"
        else:
            strays.append(f"gradcli/{path.name}")
    if strays:
        fail("no place for " + ", ".join(strays) + ".\nDecide its layer from what it imports and what imports it "
             "(tests/test_layout.py's LAYERS), then add it to PLACE in tools/relayout.py or rerun with "
             "--put NAME=FOLDER; nothing was changed.")
    return mapping


def api_names() -> set[str]:
    """Names the package's __init__.py binds other than by importing a submodule under its own name."""
    tree = ast.parse(Path(PKG, "__init__.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if not (node.level == 1 and not node.module and alias.asname in (None, alias.name)):
                    names.add(alias.asname or alias.name)
    return names


class Rewriter:
    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping
        # what moves, by its name below gradcli: "engine", "render.formula"
        self.moved = {old.split(".", 1)[1]: new for old, new in mapping.items() if old != new}
        self.ambiguous = {name for name in api_names() if name in self.moved}
        self.notes: list[str] = []
        names = "|".join(re.escape(n) for n in sorted(self.moved, key=len, reverse=True))
        paths = "|".join(re.escape(n.replace(".", "/")) for n in sorted(self.moved, key=len, reverse=True))
        self.dotted = re.compile(rf"(?<![\w.]){PKG}\.({names})(?![\w])")
        self.path = re.compile(rf"(?<![\w.-]){PKG}/({paths})\.py\b")
        # a module moved out of render/, named without the package: `render/formula.py`, `render.formula`
        out_of_render = [n for n in self.moved if n.startswith("render.")]
        self.bare = None
        if out_of_render:
            alternatives = "|".join(re.escape(n[len("render."):]) for n in out_of_render)
            self.bare = re.compile(rf"(?<![\w./-])render([./])({alternatives})(\.py)?(?!\w)")
        # `from gradcli import a, b` in text that is not parsed as code (strings, Markdown)
        self.from_package = re.compile(rf"(?<![\w.])from {PKG} import ([\w ,]+)")

    # -- import statements -------------------------------------------------------------------

    def new(self, old: str) -> str:
        if old in self.mapping:
            return self.mapping[old]
        head, _, tail = old.rpartition(".")
        if head and head in self.mapping:  # a name inside a module: gradcli.ops.OPS
            return f"{self.new(head)}.{tail}"
        return old

    @staticmethod
    def relative(importer_package: str, target: str) -> str:
        p, t = importer_package.split("."), target.split(".")
        common = 0
        while common < min(len(p), len(t)) and p[common] == t[common]:
            common += 1
        return "." * (len(p) - common + 1) + ".".join(t[common:])

    def import_from(self, node: ast.ImportFrom, module: str | None, is_package: bool) -> list[tuple[str, list[str]]] | None:
        """[(new `from` module text, [alias texts])], or None if the statement is not gradcli's."""
        if node.level:
            if module is None:
                return None  # a relative import outside the package (tests/): not ours
            package = module if is_package else module.rpartition(".")[0]
            parts = package.split(".")
            stem = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
        else:
            stem = node.module or ""
            if stem != PKG and not stem.startswith(PKG + "."):
                return None
        groups: dict[str, list[str]] = {}
        for alias in node.names:
            text = alias.name + (f" as {alias.asname}" if alias.asname else "")
            full = f"{stem}.{alias.name}"
            if stem == PKG and alias.name in self.ambiguous:
                source = PKG  # `from gradcli import hessian`: the package's attribute (the API function)
            elif full in self.mapping:  # importing a module by its name: from its new package
                source = self.mapping[full].rpartition(".")[0]
            else:
                source = self.new(stem)
            groups.setdefault(source, []).append(text)
        if node.level:
            new_module = self.new(module)
            importer = new_module if is_package else new_module.rpartition(".")[0]
            return [(self.relative(importer, source), names) for source, names in groups.items()]
        return list(groups.items())

    def rewrite_imports(self, text: str, module: str | None, is_package: bool, where: str) -> str:
        try:
            tree = ast.parse(text, where)
        except SyntaxError as exc:
            self.notes.append(f"{where}: not parsed ({exc.msg}); only its text was rewritten")
            return text
        lines = text.split("\n")  # (ast counts lines at "\n"; its columns are UTF-8 byte offsets)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)

        def offset(lineno: int, col: int) -> int:
            return starts[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

        edits = []
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            begin, end = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
            old = text[begin:end]
            if isinstance(node, ast.Import):
                new = re.sub(rf"(?<![\w.]){PKG}\.(\w+)",
                             lambda m: self.mapping.get(m.group(0), m.group(0)), old)
            else:
                groups = self.import_from(node, module, is_package)
                if groups is None:
                    continue
                if len(groups) == 1:
                    new = re.sub(r"^from\s+[.\w]+", "from " + groups[0][0], old, count=1)
                else:
                    statements = [f"from {source} import {', '.join(names)}" for source, names in groups]
                    line_start = text.rfind("\n", 0, begin) + 1
                    indent = text[line_start:begin]
                    new = ("\n" + indent).join(statements) if not indent.strip() else "; ".join(statements)
            if new != old:
                edits.append((begin, end, new))
        for begin, end, new in sorted(edits, reverse=True):
            text = text[:begin] + new + text[end:]
        return text

    # -- every other mention -----------------------------------------------------------------

    def rewrite_text(self, text: str, where: str) -> str:
        def dotted(match: re.Match) -> str:
            name = match.group(1)
            if name in self.ambiguous and not text.startswith(".", match.end()):
                if text.startswith("(", match.end()):  # a call: the API's function, not the module
                    return match.group(0)
                line = text.count("\n", 0, match.start()) + 1
                self.notes.append(f"{where}:{line}: `{match.group(0)}` left as is (the API's "
                                  f"gradcli.{name}, or the module {self.moved[name]}?)")
                return match.group(0)
            return self.moved[name]

        def from_package(match: re.Match) -> str:
            names = [n.split(" as ")[0].strip() for n in match.group(1).split(",") if n.strip()]
            modules = [n for n in names if n in self.moved and n not in self.ambiguous]
            targets = {self.moved[n].rpartition(".")[0] for n in modules}
            if not targets:
                return match.group(0)
            if len(targets) == 1 and len(modules) == len(names):
                return f"from {targets.pop()} import {match.group(1)}"
            line = text.count("\n", 0, match.start()) + 1
            self.notes.append(f"{where}:{line}: `{match.group(0).strip()}` mixes layers: split it by hand")
            return match.group(0)

        text = self.from_package.sub(from_package, text)
        text = self.dotted.sub(dotted, text)
        text = self.path.sub(lambda m: self.moved[m.group(1).replace("/", ".")].replace(".", "/") + ".py", text)
        if self.bare is not None:
            def bare(match: re.Match) -> str:
                folder = self.moved["render." + match.group(2)].split(".")[1]
                return f"{folder}{match.group(1)}{match.group(2)}{match.group(3) or ''}"

            text = self.bare.sub(bare, text)
        return text


def unresolved_imports() -> list[str]:
    """Imports of a gradcli module that does not exist in the new tree (relative ones resolved
    from where each module now is), in every tracked Python file."""
    modules = set()
    for path in Path(PKG).rglob("*.py"):
        parts = path.with_suffix("").parts
        modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    found = []
    for name in git("ls-files", "--", "*.py").split():
        path = Path(name)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), name)
        except SyntaxError:
            continue  # reported as not compiling
        parts = path.with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                stems = [a.name for a in node.names if a.name.split(".")[0] == PKG]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    if not name.startswith(PKG + "/"):
                        continue
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    stems = [".".join(anchor + ([node.module] if node.module else []))]
                else:
                    stems = [node.module] if (node.module or "").split(".")[0] == PKG else []
            else:
                continue
            for stem in stems:
                if stem not in modules:
                    found.append(f"{name}:{node.lineno}: imports {stem}, which does not exist")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="say where each module goes; change nothing")
    parser.add_argument("--put", action="append", default=[], metavar="NAME=FOLDER",
                        help="the layer folder of a module PLACE does not know (repeatable)")
    args = parser.parse_args()
    if not (Path(PKG, "__init__.py").is_file() and Path("pyproject.toml").is_file()):
        fail("run this from the repository root (gradcli/__init__.py and pyproject.toml)")
    put = {}
    for item in args.put:
        name, sep, folder = item.partition("=")
        if not sep:
            fail(f"--put {item!r}: expected NAME=FOLDER")
        put[name.strip().removesuffix(".py")] = folder.strip()
    mapping = plan(put)
    moves = {old: new for old, new in mapping.items() if old != new}
    rank = {folder: i for i, folder in enumerate([*FOLDERS, *PACKAGES_THAT_STAY])}
    for old, new in sorted(moves.items(), key=lambda kv: (rank[kv[1].split(".")[1]], kv[0])):
        print(f"  {old.replace('.', '/')}.py -> {new.replace('.', '/')}.py")
    absent = sorted(name for name in {**PLACE, **put} if f"{PKG}.{name}" not in mapping)
    if absent:
        print(f"  (not in this tree, skipped: {', '.join(absent)})")
    if args.dry_run:
        return 0
    if git("status", "--porcelain", "--untracked-files=no").strip():
        fail("the work tree has uncommitted changes; commit or stash them first")
    untracked = [line[3:] for line in git("status", "--porcelain", "--", PKG).splitlines() if line.startswith("??")]
    untracked = [p for p in untracked if p.endswith(".py") or p.endswith("/")]
    if untracked:
        fail(f"untracked files in gradcli/: {untracked}; add or remove them first")

    rewriter = Rewriter(mapping)
    # the module each file held before the move (relative imports are resolved from there)
    old_module_of: dict[str, tuple[str, bool]] = {}
    for old in mapping:
        if old == PKG:
            old_module_of[f"{PKG}/__init__.py"] = (PKG, True)
            continue
        path = Path(*old.split("."))
        if path.is_dir():
            old_module_of[str(path / "__init__.py")] = (old, True)
        else:
            old_module_of[str(path.with_suffix(".py"))] = (old, False)
    new_path_of = {f"{Path(*old.split('.'))}.py": f"{Path(*new.split('.'))}.py" for old, new in moves.items()}

    for folder in FOLDERS:
        if any(new.split(".")[1] == folder for new in moves.values()):
            Path(PKG, folder).mkdir(exist_ok=True)
            Path(PKG, folder, "__init__.py").write_text(f'"""{FOLDERS[folder]}\n"""\n', encoding="utf-8")
    for old_path, new_path in new_path_of.items():
        git("mv", old_path, new_path)
    git("add", *[str(Path(PKG, f, "__init__.py")) for f in FOLDERS if Path(PKG, f, "__init__.py").exists()])
    module_at = {new_path_of.get(path, path): info for path, info in old_module_of.items()}
    for folder in FOLDERS:
        init = str(Path(PKG, folder, "__init__.py"))
        if Path(init).exists():
            module_at[init] = (f"{PKG}.{folder}", True)

    me = Path(__file__).resolve()
    changed = []
    for name in git("ls-files", "-z").split("\0"):
        path = Path(name)
        if not name or not path.is_file() or path.resolve() == me or path.suffix not in TEXT_SUFFIXES:
            continue
        raw = path.read_bytes()
        if b"\0" in raw:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        new = text
        if path.suffix == ".py":
            module, is_package = module_at.get(name, (None, False))
            new = rewriter.rewrite_imports(new, module, is_package, name)
        new = rewriter.rewrite_text(new, name)
        if MARK in new:
            new = "".join(line for line in new.splitlines(keepends=True) if MARK not in line)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(name)
    git("add", "-u")

    broken = []
    for name in git("ls-files", "--", "*.py").split():
        try:
            compile(Path(name).read_text(encoding="utf-8"), name, "exec")
        except SyntaxError as exc:
            broken.append(f"{name}:{exc.lineno}: {exc.msg}")
    leftovers = unresolved_imports()
    print(f"moved {len(moves)} modules into {len({n.split('.')[1] for n in moves.values()})} folders; "
          f"rewrote {len(changed)} files (staged: review with `git diff --staged -M --stat`)")
    for note in rewriter.notes:
        print("  check:", note)
    for line in leftovers:
        print("  check:", line)
    if broken:
        print("relayout: these files no longer compile:\n  " + "\n  ".join(broken), file=sys.stderr)
        return 1
    print("next: python -m pytest tests/test_layout.py, then the whole suite; then delete tools/relayout.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
