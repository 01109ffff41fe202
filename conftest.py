pytest_plugins = ["tanhui_shared.testing.fixtures"]
