"""CI renderers: GitHub Actions, GitLab CI, Jenkins. Data first, text last."""
