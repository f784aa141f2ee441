app_name = "warehouse"
urlpatterns: list = [
    # Stations (receive, count, dashboard, unit history, labels) are added here.
]
