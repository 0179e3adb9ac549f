"""One Kivy screen per check-in step."""
