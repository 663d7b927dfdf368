# Shared by build.sh and check-verifiers.sh (sourced, from the repository root).

# Every circuit of the protocol: circuits/*.circom that declare a `component main`, by name.
all_circuits() {
  grep -l '^\s*component\s\+main\b' circuits/*.circom | xargs -n1 basename | sed 's/\.circom$//' | sort
}

# The circuit's own sources: circuits/<Name>.circom and every file it includes, transitively (resolved like circom:
# relative to the including file, then under node_modules), so that editing one circuit does not rebuild the others.
circuit_sources() {
  node -e '
    const fs = require("fs"), path = require("path");
    const seen = new Set(), todo = [path.resolve(process.argv[1])];
    while (todo.length) {
      const f = todo.pop();
      if (seen.has(f)) continue;
      seen.add(f);
      for (const m of fs.readFileSync(f, "utf8").matchAll(/^\s*include\s+"([^"]+)"/gm)) {
        const cands = [path.resolve(path.dirname(f), m[1]), path.resolve("node_modules", m[1])];
        const hit = cands.find((c) => fs.existsSync(c));
        if (!hit) { console.error("unresolved include " + m[1] + " in " + f); process.exit(1); }
        todo.push(hit);
      }
    }
    console.log([...seen].map((f) => path.relative(process.cwd(), f)).sort().join("\n"));
  ' "$1"
}

compile_hash() {
  {
    circuit_sources "$1" | xargs sha256sum
    echo "circom2 $(node -p 'require("./node_modules/circom2/package.json").version') --O2"
  } | sha256sum | cut -d' ' -f1
}

