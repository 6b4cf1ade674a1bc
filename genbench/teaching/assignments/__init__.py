"""The built-in assignments: a spec (<name>.yaml) and a checks module each; see README.md."""
