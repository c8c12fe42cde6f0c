"""The editions of a newsletter as one family: status, translate, and check/build of every local edition."""
