print("npm-registry-sim: not built yet")
