from tanhui_gateway.routes import ROUTES, Route, match


def test_the_longest_matching_prefix_owns_the_path():
    routes = (Route("/api/v1/a", "one"), Route("/api/v1/a/b", "two"))
    assert match("/api/v1/a/b/c", routes).service == "two"
    assert match("/api/v1/a/x", routes).service == "one"
    assert match("/api/v1/a", routes).service == "one"


def test_a_prefix_never_matches_a_longer_word():
    assert match("/api/v1/holdingsX") is None
    assert match("/api/v1/mefirst") is None


def test_every_route_points_at_a_known_service():
    assert {r.service for r in ROUTES} <= {"accounts", "verification", "credits"}
    assert match("/api/v1/holdings").service == "credits"
    assert match("/api/v1/auth/token").service == "accounts"
