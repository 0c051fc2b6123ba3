"""The staff console: server-rendered pages at /console/ for people who sign in."""
