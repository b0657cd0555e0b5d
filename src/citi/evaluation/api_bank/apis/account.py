"""Account, token and bank APIs (official: get_user_token, check_token, register_user, ...)."""

from __future__ import annotations

import random
import string

from .base import API, same_tail


class GetUserToken(API):
    name, database = "GetUserToken", "Account"

    def run(self, username, password):
        if username not in self.db:
            raise Exception("The username does not exist.")
        if self.db[username]["password"] != password:
            raise Exception("The password is incorrect.")
        return {"token": self.db[username]["token"]}


class CheckToken(API):
    name, database = "CheckToken", "Account"

    def run(self, token):
        return {"username": self.user(token)}


class RegisterUser(API):
    name, database = "RegisterUser", "Account"

    def run(self, username, password, email):
        if username in self.db:
            raise Exception("The username already exists.")
        token = "".join(random.choices(string.ascii_letters + string.digits, k=18)).lower()
        self.db[username] = {"password": password, "token": token, "email": email}
        return token

    def check(self, result, gold):
        # the token is random: only whether one was issued counts
        if gold["output"] is None and result["output"] is not None:
            return False
        return result["input"] == gold["input"] and result["exception"] == gold["exception"]


class DeleteAccount(API):
    name, database = "DeleteAccount", "Account"

    def run(self, token):
        username = self.user(token)
        if username not in self.db:
            raise Exception("No such user.")
        del self.db[username]
        return {"status": "success"}


class ModifyPassword(API):
    name, database = "ModifyPassword", "Account"

    def run(self, token, old_password, new_password):
        username = self.user(token)
        if self.db[username]["password"] != old_password:
            raise Exception("The old password is incorrect.")
        self.db[username]["password"] = new_password
        return {"status": "success"}


class ForgotPassword(API):
    """Two calls: 'Forgot Password' issues a code (kept on the instance), 'Verification Code' uses it."""
    name, database = "ForgotPassword", "Account"
    CODE = 970420

    def __init__(self, world):
        super().__init__(world)
        self.code, self.username = None, None

    def run(self, status, username=None, email=None, verification_code=None, new_password=None):
        # the official signature is (status, **kwargs): absent keys are absent, not None
        if status == "Forgot Password":
            if username is None or email is None:
                raise Exception("The username and email are required for the first call.")
            if username not in self.db:
                raise Exception("The username does not exist.")
            if self.db[username]["email"] != email:
                raise Exception("The email is incorrect.")
            self.code, self.username = self.CODE, username
            return self.code
        if status == "Verification Code":
            if not self.code:
                raise Exception("You need to call the API with status 'Forgot Password' at first.")
            if new_password is None or verification_code is None:
                raise Exception("The new password and verification code are required for the second call.")
            if self.code != verification_code:
                raise Exception("The verification code is incorrect.")
            self.db[self.username]["password"] = new_password
            return "success"
        raise Exception("The status is only 'Forgot Password' or 'Verification Code'.")

    def call(self, **kwargs):
        try:
            out = self.run(**kwargs)
        except TypeError:
            raise
        except Exception as e:  # noqa: BLE001
            return self.result(dict(kwargs), None, str(e))
        return self.result(dict(kwargs), out, None)


class QueryBalance(API):
    name, database = "QueryBalance", "Bank"

    def run(self, token):
        try:
            token.strip()
            username = self.user(token)
        except Exception:  # noqa: BLE001
            raise Exception("The token is incorrect.") from None
        if username not in self.db:
            raise Exception("The user does not have an account.")
        return self.db[username]["balance"]

    def check(self, result, gold):
        return result["input"]["token"].strip() == gold["input"]["token"].strip() and same_tail(result, gold)


class OpenBankAccount(API):
    """Its own one-entry store (no init_database), fresh per tool world."""
    name = "OpenBankAccount"

    def __init__(self, world):
        super().__init__(world)
        self.store = {0: {"account": "test", "password": "test", "name": "yifei"}}

    def run(self, account, password, name):
        if any(v["account"] == account for v in self.store.values()):
            return "failed"
        self.store[len(self.store) + 1] = {"account": account, "password": password, "name": name}
        return "success"


APIS = [GetUserToken, CheckToken, RegisterUser, DeleteAccount, ModifyPassword, ForgotPassword,
        QueryBalance, OpenBankAccount]
